"""Imports every model module so that `Base.metadata` knows every table."""

from strongroom.server.accounts import api_key_models
from strongroom.server.accounts import models as accounts_models
from strongroom.server.audit import models as audit_models
from strongroom.server.core import models as core_models
from strongroom.server.core.db import Base
from strongroom.server.mobile import models as mobile_models
from strongroom.server.settings import models as settings_models
from strongroom.server.vault import models as vault_models
from strongroom.server.web import models as web_models

__all__ = [
    "Base",
    "accounts_models",
    "api_key_models",
    "audit_models",
    "core_models",
    "mobile_models",
    "settings_models",
    "vault_models",
    "web_models",
]
