# Partial stub for flask_wtf.form (Flask-WTF 1.3).
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup
from wtforms import Field, Form
from wtforms.meta import _MultiDictLike

class FlaskForm(Form):
    # formdata defaults to the request's form (and files) when the request was submitted; pass None to not read it.
    def __init__(
        self,
        formdata: _MultiDictLike | None = ...,
        *,
        obj: object | None = None,
        prefix: str = "",
        data: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        extra_filters: Mapping[str, Sequence[Any]] | None = None,
        **kwargs: object,
    ) -> None: ...
    def is_submitted(self) -> bool: ...
    def validate_on_submit(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool: ...
    def hidden_tag(self, *fields: str | Field) -> Markup: ...
