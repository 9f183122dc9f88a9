# Partial stub for Flask-WTF 1.3 (the package has no py.typed and no stub package exists).
from flask_wtf.csrf import CSRFProtect as CSRFProtect
from flask_wtf.form import FlaskForm as FlaskForm
from flask_wtf.form import FlaskForm as Form

__all__ = ["CSRFProtect", "FlaskForm", "Form"]
