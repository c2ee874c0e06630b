"""Readers of the publishers' file formats: each checks its layout and names what does not match."""
