"""fakemeta contract suite."""
