"""The watch (veille): its API, the board and the sources pages."""
