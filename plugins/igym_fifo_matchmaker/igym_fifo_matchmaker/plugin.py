"""igym plugin entry point: the matchmakers this distribution provides."""

from igym_core import hookimpl
from igym_fifo_matchmaker.fifo import FifoMatchmaker
from igym_fifo_matchmaker.rtt import RttFifoMatchmaker


@hookimpl
def igym_matchmakers():
    return [FifoMatchmaker, RttFifoMatchmaker]
