# Partial stub for flask_babel.speaklater (Flask-Babel 4.0).
from collections.abc import Callable
from typing import Any

# At run time LazyString is NOT a str subclass: it stores a gettext call and forwards every str method (through
# __getattr__ and the dunder methods) to the translated text, evaluated in the request's locale. It is typed as a str
# subclass so it is accepted where text is expected (WTForms labels, descriptions and messages, Jinja), which is how
# it is meant to be used. Do not rely on isinstance(x, str) for it; call str(x) to get the translated text.
class LazyString(str):
    def __init__(self, func: Callable[..., object], *args: Any, **kwargs: Any) -> None: ...
    def __html__(self) -> str: ...
