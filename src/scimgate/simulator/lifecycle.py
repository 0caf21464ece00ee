"""The provisioning lifecycle an identity provider runs against a SCIM service.

Each step works through its people or groups one at a time, or with several
requests in flight (``concurrency``); a step starts once the one before it has
ended, as the later steps need what the earlier ones created.
"""

from scimgate.simulator.dialects import Dialect
from scimgate.simulator.population import Person, Population, Team
from scimgate.simulator.runner import Report, Session


def run(
    base_url: str, token: str, dialect: Dialect, population: Population, concurrency: int = 1
) -> Report:
    """Discovery, test connection, initial sync, memberships, changes, leavers; then verify."""
    session = Session(base_url, token, dialect.user_agent, concurrency)
    try:
        _lifecycle(session, dialect, population)
    finally:
        session.close()
    return session.report


def _lifecycle(session: Session, dialect: Dialect, population: Population) -> None:
    people = population.people
    with session.step("discovery"):
        for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
            session.send("GET", path, (200,))

    with session.step("test connection"):
        dialect.test_connection(session)

    def sync_user(person: Person) -> None:
        lookup = {"filter": f'userName eq "{person.user_name}"', "startIndex": 1, "count": 100}
        found = session.send("GET", "/Users", (200,), params=lookup)
        if found and found.get("totalResults"):
            person.scim_id = found["Resources"][0]["id"]
            return
        created = session.send(
            "POST", "/Users", (201,), json=dialect.user_body(person, population.domain)
        )
        person.scim_id = created["id"] if created else None

    with session.step("initial sync: users"):
        session.each(people, sync_user)

    by_key = {person.key: person for person in people}

    def sync_manager(person: Person) -> None:
        manager = by_key.get(person.manager) if person.manager else None
        if person.scim_id and manager and manager.scim_id:
            dialect.set_manager(session, person, manager.scim_id)

    with session.step("initial sync: managers"):
        session.each(people, sync_manager)

    teams = population.teams if dialect.pushes_groups else []

    def sync_group(team: Team) -> None:
        found = dialect.find_group(session, team)
        present: set[str] = set()
        if found and found.get("totalResults"):
            team.scim_id = found["Resources"][0]["id"]
            # A group from an earlier run: reconcile it, as the IdP would.
            current = session.send("GET", f"/Groups/{team.scim_id}", (200,)) or {}
            present = {member["value"] for member in current.get("members", [])}
        else:
            created = dialect.create_group(session, team)
            team.scim_id = created["id"] if created else None
        wanted = {by_key[key].scim_id for key in team.members if by_key[key].scim_id}
        if team.scim_id:
            for extra in sorted(present - wanted):
                dialect.remove_member(session, team, extra)
            dialect.add_members(session, team, sorted(i for i in wanted - present if i))

    with session.step("initial sync: groups and members"):
        session.each(teams, sync_group)

    def move(person: Person) -> None:
        changed = dialect.change_title(session, person, "Principal")
        session.check(bool(changed) and changed.get("title") == "Principal", "title changed")

    movers = people[1::10]
    with session.step("movers: attribute changes"):
        session.each(movers, move)

    def remove_first_member(team: Team) -> None:
        if team.scim_id and team.members and by_key[team.members[0]].scim_id:
            dialect.remove_member(session, team, str(by_key[team.members.pop(0)].scim_id))

    with session.step("movers: membership removals"):
        session.each(teams[::2], remove_first_member)

    def deactivate(person: Person) -> None:
        answer = dialect.deactivate(session, person)
        session.check(bool(answer) and answer.get("active") is False, "user deactivated")

    leavers = people[2::10]
    with session.step("leavers: deactivation"):
        session.each(leavers, deactivate)

    if dialect.deletes_users:
        with session.step("leavers: deletion"):
            for person in leavers[::2]:
                session.send("DELETE", f"/Users/{person.scim_id}", (204,))
                session.send("GET", f"/Users/{person.scim_id}", (404,))
                person.scim_id = None
                for team in teams:
                    if person.key in team.members:
                        team.members.remove(person.key)

    with session.step("verification"):
        for person in leavers:
            if person.scim_id:
                user = session.send("GET", f"/Users/{person.scim_id}", (200,))
                session.check(bool(user) and user.get("active") is False, "leaver stays inactive")
        for team in teams[:5]:
            group = session.send("GET", f"/Groups/{team.scim_id}", (200,))
            members = {m["value"] for m in (group or {}).get("members", [])}
            expected = {by_key[key].scim_id for key in team.members}
            session.check(members == expected, f"members of {team.display_name}")
