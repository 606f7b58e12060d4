"""PLACEHOLDER."""


def shutdown():
    pass
