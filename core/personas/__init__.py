"""Personas in the database: the persona files loaded, their channel policies kept in step."""
