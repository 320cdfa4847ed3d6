"""A script the C tests load from a file found through LOADER_SCRIPT_PATH."""


def echo(value):
    return value


def where():
    return __file__
