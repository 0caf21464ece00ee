"""A realistic, deterministic directory to provision: people, managers, departments, teams."""

import random
from dataclasses import dataclass, field
from unicodedata import normalize

GIVEN = (
    "Ada",
    "Ben",
    "Chloé",
    "Dmitri",
    "Elif",
    "Farah",
    "Gustav",
    "Hana",
    "Ivo",
    "Jun",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
)
FAMILY = (
    "Andersen",
    "Bianchi",
    "Chen",
    "Dubois",
    "Eze",
    "Fischer",
    "García",
    "Hoang",
    "Ivanova",
    "Jensen",
    "López",
)
DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Support", "People", "Legal")
TITLES = ("Associate", "Specialist", "Senior Specialist", "Lead", "Manager", "Director")


@dataclass
class Person:
    key: str
    """The IdP's own id for the person (its objectId / Okta id): the SCIM externalId."""

    user_name: str
    given_name: str
    family_name: str
    department: str
    title: str
    manager: str | None
    """The key of the person's manager, who is provisioned earlier."""

    scim_id: str | None = None


@dataclass
class Team:
    key: str
    display_name: str
    members: list[str] = field(default_factory=list)
    """Keys of the people in the team."""

    scim_id: str | None = None


@dataclass
class Population:
    domain: str
    people: list[Person]
    teams: list[Team]


def generate(users: int, groups: int, seed: int = 1, domain: str = "example.com") -> Population:
    """``users`` people (the first of each department heads it) and ``groups`` teams."""
    rng = random.Random(seed)
    people: list[Person] = []
    heads: dict[str, str] = {}
    for n in range(users):
        given, family = GIVEN[n % len(GIVEN)], FAMILY[(n // len(GIVEN)) % len(FAMILY)]
        department = DEPARTMENTS[n % len(DEPARTMENTS)]
        key = f"{seed:04x}{n:08x}-sim"
        people.append(
            Person(
                key=key,
                user_name=f"{_ascii(given)}.{_ascii(family)}.{n}@{domain}",
                given_name=given,
                family_name=family,
                department=department,
                title=rng.choice(TITLES),
                manager=heads.get(department),
            )
        )
        heads.setdefault(department, key)
    teams = [Team(key=f"{seed:04x}{n:08x}-team", display_name=_team_name(n)) for n in range(groups)]
    for person in people:
        for team in rng.sample(teams, k=min(len(teams), rng.randint(1, 3))):
            team.members.append(person.key)
    return Population(domain, people, teams)


def _ascii(name: str) -> str:
    """An e-mail-safe spelling: "Chloé" becomes "chloe"."""
    return normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _team_name(n: int) -> str:
    department = DEPARTMENTS[n % len(DEPARTMENTS)]
    return department if n < len(DEPARTMENTS) else f"{department} team {n // len(DEPARTMENTS)}"
