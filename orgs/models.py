"""The face of the ``orgs`` app's models for Django: each feature keeps its models in its own
sub-package (``orgs.<feature>.models``); importing them here registers them all under the one app
label ``orgs``, so tables, migrations and ``"orgs.X"`` labels are unchanged.

Code imports a model from its feature module, never from here.
"""

from orgs.inheritance.models import EffectiveSettings, PropagationJob, SettingsOverride
from orgs.invitations.models import Invitation
from orgs.jobs.models import JobStatus, LeasedJob
from orgs.profiles.models import OrganizationProfileValue, UserStore, UserStoreAttributeMapping
from orgs.sharing.models import SharingJob, SharingPolicy
from orgs.tree.models import ActsForLink, Membership, Organization, OrganizationDomain

__all__ = [
    "ActsForLink",
    "EffectiveSettings",
    "Invitation",
    "JobStatus",
    "LeasedJob",
    "Membership",
    "Organization",
    "OrganizationDomain",
    "OrganizationProfileValue",
    "PropagationJob",
    "SettingsOverride",
    "SharingJob",
    "SharingPolicy",
    "UserStore",
    "UserStoreAttributeMapping",
]
