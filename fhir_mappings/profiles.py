"""Mapping modes and the profiles each mode claims.

The default mode (`nl-core`) writes resources that fit the Nictiz zib2020 nl-core profiles where one fits;
the `kt2` mode writes what a Koppeltaal 2.0 domain accepts (VZVZ KT2 profiles). Which mode applies is
configuration: per EPD (`[[ehr]] mapping`) or Koppeltaal domain (`[[koppeltaal]] mapping`).
"""

from __future__ import annotations

from enum import StrEnum

from fhir_mappings.codes import (
    CS_COD472,
    CS_SNOMED,
    CS_V3_ROLE_CODE,
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_KT2_TASK,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_NL_CORE_CONTACT_PERSON,
    PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
)
from fhir_mappings.fhirjson import Json


class MappingMode(StrEnum):
    NL_CORE = "nl-core"
    KT2 = "kt2"


# resourceType -> the profiles the mapping claims for it, per mode. KT2CareTeam and KT2RelatedPerson derive from
# nl-core-CareTeam and nl-core-ContactPerson, so a resource that meets the KT2 profile meets the nl-core one too.
CLAIMS: dict[MappingMode, dict[str, tuple[str, ...]]] = {
    MappingMode.NL_CORE: {
        "CareTeam": (PROFILE_NL_CORE_CARE_TEAM,),
        "RelatedPerson": (PROFILE_NL_CORE_CONTACT_PERSON,),
        "Goal": (PROFILE_NL_CORE_TREATMENT_OBJECTIVE,),
    },
    MappingMode.KT2: {
        "CareTeam": (PROFILE_KT2_CARE_TEAM,),
        "RelatedPerson": (PROFILE_KT2_RELATED_PERSON,),
        "Goal": (PROFILE_NL_CORE_TREATMENT_OBJECTIVE,),
        "Task": (PROFILE_KT2_TASK,),
    },
}

# Every profile some mode claims: a claim of the other mode is replaced, never left standing, when a resource
# is written in this mode (a claim must only stay where the resource meets it).
OWN_CLAIMS: frozenset[str] = frozenset(p for claims in CLAIMS.values() for ps in claims.values() for p in ps)


def claims(mode: MappingMode, resource_type: str) -> tuple[str, ...]:
    """The profiles a resource of this type claims in this mode (none when no profile fits)."""
    return CLAIMS[MappingMode(mode)].get(resource_type, ())


def with_profiles(meta: Json | None, mode: MappingMode, resource_type: str) -> Json | None:
    """`meta` with this mode's claims for the type added to `meta.profile`; another system's profiles stay,
    the other mode's claims of ours go. None when there is nothing to write (no meta and no claim)."""
    out = dict(meta or {})
    ours = claims(mode, resource_type)
    kept = [p for p in out.get("profile") or [] if p not in OWN_CLAIMS]
    profiles = kept + [p for p in ours if p not in kept]
    if profiles:
        out["profile"] = profiles
    else:
        out.pop("profile", None)
    return out or None


# KT2 mode: the Koppeltaal CareTeam role (SNOMED CT) written next to our own member roles where one fits.
# A supporter (RelatedPerson) is an informal carer (koppeltaal-relatedperson-role); the regieondersteuner
# coordinates the group (koppeltaal-practitioner-role, care team coordinator). Other professionals get only
# our roles: "assigned practitioner" (behandelaar) would claim a treatment relation the group does not record.
KT2_MEMBER_ROLES: dict[str, Json] = {
    "RelatedPerson": {"system": CS_SNOMED, "code": "407542009", "display": "Informal carer (person)"},
    "regieondersteuner": {"system": CS_SNOMED, "code": "768821004", "display": "Care team coordinator (occupation)"},
}

# KT2RelatedPerson slices `relationship` closed: every relationship must come from the zib RelatieCodelijst
# (v3-RoleCode family members) or the zib RolCodelijst (COD472). Our own relationship code stays first; where it
# is not in the RelatieCodelijst, KT2 mode adds the COD472 role that fits to the same concept (a concept with one
# coding from the value set meets the binding). Family codes in the RelatieCodelijst (v3-RoleCode):
ZIB_RELATIE_ROLE_CODES: tuple[str, ...] = (
    "ADOPTF",
    "ADOPTM",
    "AUNT",
    "BRO",
    "BROINLAW",
    "COUSN",
    "DAUC",
    "DAUINLAW",
    "DOMPART",
    "FTH",
    "FTHINLAW",
    "DAUFOST",
    "FTHFOST",
    "MTHFOST",
    "SONFOST",
    "GRNDDAU",
    "GRFTH",
    "GRMTH",
    "GRNDSON",
    "GGRFTH",
    "GGRMTH",
    "HUSB",
    "MTH",
    "MTHINLAW",
    "NEPHEW",
    "NIECE",
    "SIS",
    "SISINLAW",
    "SONC",
    "SONINLAW",
    "STPFTH",
    "STPMTH",
    "UNCLE",
    "WIFE",
)
# ... and the null flavor OTH (other) the list also holds.
ZIB_RELATIE_CODES = frozenset((*ZIB_RELATIE_ROLE_CODES, "OTH"))
_COD472 = {
    "07": "Hulpverlener",
    "19": "Buur",
    "20": "Vriend(in)/kennis",
    "23": "Contactpersoon",  # KT2 requires this exact display (invariant kt2-role-display-validation)
}


def kt2_relationship_role(system: str, code: str) -> Json | None:
    """The COD472 role coding KT2 mode adds to a relationship not in the RelatieCodelijst (None: not needed)."""
    if system == CS_V3_ROLE_CODE and code in ZIB_RELATIE_CODES:
        return None
    if system == CS_COD472:
        return None
    if system == CS_SNOMED:  # an outside professional: their occupation
        role = "07"
    elif system == CS_V3_ROLE_CODE and code in ("FRND", "NBOR"):
        role = "20" if code == "FRND" else "19"
    else:
        role = "23"
    return {"system": CS_COD472, "code": role, "display": _COD472[role]}
