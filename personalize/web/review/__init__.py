"""The A/B review dashboard: a Flask blueprint any host app can mount.

::

    from personalize.integrations.flask import Personalize
    from personalize.web.review import review_blueprint

    app.config["PERSONALIZE_REVIEW_PASSWORD"] = os.environ["PERSONALIZE_REVIEW_PASSWORD"]
    engine = Personalize(app).engine(app)
    app.register_blueprint(review_blueprint(engine), url_prefix="/review")

Pages: the overview of every slot and one page per slot (variants side by side
as sandboxed previews, traffic share and reward over time, the holdout lift,
the offline evaluation), split tests with the sample-ratio check, guardrails
(reports, pauses with their evidence, pause and resume), the searchable
decision log, "view as" a chosen visitor, and the loaded rules.

Configuration (read when the blueprint is registered):

================================ ==================================================
``PERSONALIZE_REVIEW_PASSWORD``  the dashboard's password, from the app config or
                                 else the environment variable of the same name.
                                 At least 8 characters. Unset: a random one is
                                 generated and logged once (``personalize.review``
                                 logger, warning level) for this process only.
``SECRET_KEY``                   required: the dashboard's session is the app's
                                 signed Flask session (keys ``pz_review_*``).
================================ ==================================================

Registering also tightens the session cookie where the host kept Flask's
defaults: ``SameSite=Lax``, ``HttpOnly``, and ``Secure`` on https requests
(see :func:`~.auth.secure_session_defaults`). Every POST carries a CSRF token;
failed logins are rate-limited per client address.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import TYPE_CHECKING

from flask import Blueprint, Flask
from flask.blueprints import BlueprintSetupState

from ...exceptions import ConfigError
from .auth import LoginLimiter, ReviewAuth, secure_session_defaults
from .views import EXTENSION_KEY, register_views

if TYPE_CHECKING:
    from ...engine import Personalizer

__all__ = ["CONFIG_KEY", "MIN_PASSWORD", "review_blueprint"]

log = logging.getLogger("personalize.review")

CONFIG_KEY = "PERSONALIZE_REVIEW_PASSWORD"
MIN_PASSWORD = 8


def review_blueprint(engine: Personalizer, *, password: str | None = None,
                     limiter: LoginLimiter | None = None) -> Blueprint:
    """The dashboard for ``engine``, as a blueprint named ``review``.

    :param engine: the :class:`~personalize.engine.Personalizer` the site runs.
    :param password: the dashboard password; overrides ``PERSONALIZE_REVIEW_PASSWORD``.
    :param limiter: the failed-login limiter (default: 5 failures per 5 minutes
        per client address).
    :raises ConfigError: at registration, when the app has no ``SECRET_KEY`` or
        the password is shorter than :data:`MIN_PASSWORD` characters.
    """
    bp = Blueprint("review", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static")

    @bp.record_once
    def configure(state: BlueprintSetupState) -> None:
        app = state.app
        assert isinstance(app, Flask)  # a blueprint is only ever registered on a Flask app
        if not app.secret_key:
            raise ConfigError("SECRET_KEY", "the review dashboard keeps its login in the "
                              "app's signed session: set app.config['SECRET_KEY'] to a long "
                              "random value")
        chosen = password or app.config.get(CONFIG_KEY) or os.environ.get(CONFIG_KEY)
        generated = not chosen
        if not chosen:
            chosen = secrets.token_urlsafe(12)
            log.warning("%s is not set; the review dashboard's password for this process is: "
                        "%s", CONFIG_KEY, chosen)
        if not isinstance(chosen, str) or len(chosen) < MIN_PASSWORD:
            raise ConfigError(CONFIG_KEY, f"expected a password of at least {MIN_PASSWORD} "
                              f"characters, got {len(str(chosen))}")
        secure_session_defaults(app)
        app.extensions[EXTENSION_KEY] = ReviewAuth(chosen, limiter or LoginLimiter(),
                                                   generated=generated)

    register_views(bp, engine)
    return bp
