"""Multiplayer game scenes on the server: waiting room, matchmaking, P2P validation, parity."""
