"""PLACEHOLDER: store configuration."""


def configure(conf):
    pass
