"""The fakemeta reference receiver."""
