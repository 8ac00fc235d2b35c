"""The policy engine's labelled corpus (posts of the Région and of its president) and its measure."""
