"""The face of the ``orgs`` app's admin: Django's admin autodiscovery imports this module, and it
imports each feature's admin module, which registers its own model admins."""

from orgs.inheritance import admin as inheritance_admin
from orgs.invitations import admin as invitations_admin
from orgs.profiles import admin as profiles_admin
from orgs.sharing import admin as sharing_admin
from orgs.tree import admin as tree_admin

__all__ = ["inheritance_admin", "invitations_admin", "profiles_admin", "sharing_admin", "tree_admin"]
