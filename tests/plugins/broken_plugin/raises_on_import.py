"""A plugin whose import fails, as a third party's missing dependency would."""

raise ImportError("portevoix_broken needs the 'frobnicate' package, which is not installed")
