"""The provisioning lifecycle an identity provider runs against a SCIM service.

Each step works through its people or groups one at a time, or with several
requests in flight (``concurrency``); a step starts once the one before it has
ended, as the later steps need what the earlier ones created.
"""

from collections.abc import Callable

from scimgate.simulator.dialects import Dialect
from scimgate.simulator.population import Person, Population, Team
from scimgate.simulator.runner import Report, Session

LEAVERS_PERCENT = 5
"""People who leave, by default: under the safety valve's default share (10%), so that a
rehearsal does not hold the directory's events unless it is asked to."""

FIRST_STEPS = ("discovery", "test connection")
"""Steps whose failure ends the run: the rest would fail for the same reason."""


def run(
    base_url: str,
    token: str,
    dialect: Dialect,
    population: Population,
    concurrency: int = 1,
    leavers_percent: float = LEAVERS_PERCENT,
) -> Report:
    """Discovery, test connection, initial sync, memberships, changes, leavers; then verify.

    The run stops at once when the server is out of reach, refuses the token, or fails
    discovery; ``Report.stopped`` says why.
    """
    session = Session(base_url, token, dialect.user_agent, concurrency)
    try:
        Lifecycle(session, dialect, population, leavers_percent).run()
    finally:
        session.close()
    return session.report


class Lifecycle:
    """The lifecycle's steps over one population, in the order an IdP takes them."""

    def __init__(
        self,
        session: Session,
        dialect: Dialect,
        population: Population,
        leavers_percent: float = LEAVERS_PERCENT,
    ) -> None:
        self.session = session
        self.dialect = dialect
        self.population = population
        self.people = population.people
        self.by_key = {person.key: person for person in self.people}
        self.teams = population.teams if dialect.pushes_groups else []
        self.leavers = leavers(self.people, leavers_percent)

    def run(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("discovery", self.discovery),
            ("test connection", lambda: self.dialect.test_connection(self.session)),
            ("initial sync: users", lambda: self.session.each(self.people, self.sync_user)),
            ("initial sync: managers", lambda: self.session.each(self.people, self.sync_manager)),
            (
                "initial sync: groups and members",
                lambda: self.session.each(self.teams, self.sync_group),
            ),
            ("movers: attribute changes", lambda: self.session.each(self.people[1::10], self.move)),
            (
                "movers: membership removals",
                lambda: self.session.each(self.teams[::2], self.remove_first_member),
            ),
            ("leavers: deactivation", lambda: self.session.each(self.leavers, self.deactivate)),
        ]
        if self.dialect.deletes_users:
            steps.append(("leavers: deletion", self.delete_leavers))
        steps.append(("verification", self.verify))
        for name, step in steps:
            with self.session.step(name):
                step()
            report = self.session.report
            failed = report.steps[-1].failures
            if failed and name in FIRST_STEPS:
                first = report.failures[-failed]
                answer = f" ({first.status} {first.response})" if first.status else ""
                self.session.stop(f"{name} failed: {first.request}{answer}")
            if report.stopped is not None:
                return

    def discovery(self) -> None:
        for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
            self.session.send("GET", path, (200,))

    def sync_user(self, person: Person) -> None:
        lookup = {"filter": f'userName eq "{person.user_name}"', "startIndex": 1, "count": 100}
        found = self.session.send("GET", "/Users", (200,), params=lookup)
        if found and found.get("totalResults"):
            person.scim_id = found["Resources"][0]["id"]
            return
        body = self.dialect.user_body(person, self.population.domain)
        created = self.session.send("POST", "/Users", (201,), json=body)
        person.scim_id = created["id"] if created else None

    def sync_manager(self, person: Person) -> None:
        manager = self.by_key.get(person.manager) if person.manager else None
        if person.scim_id and manager and manager.scim_id:
            self.dialect.set_manager(self.session, person, manager.scim_id)

    def sync_group(self, team: Team) -> None:
        found = self.dialect.find_group(self.session, team)
        present: set[str] = set()
        if found and found.get("totalResults"):
            team.scim_id = found["Resources"][0]["id"]
            # A group from an earlier run: reconcile it, as the IdP would.
            current = self.session.send("GET", f"/Groups/{team.scim_id}", (200,)) or {}
            present = {member["value"] for member in current.get("members", [])}
        else:
            created = self.dialect.create_group(self.session, team)
            team.scim_id = created["id"] if created else None
        if not team.scim_id:
            return
        wanted = {self.by_key[key].scim_id for key in team.members} - {None}
        for extra in sorted(present - wanted):
            self.dialect.remove_member(self.session, team, extra)
        self.dialect.add_members(self.session, team, sorted(str(i) for i in wanted - present))

    def move(self, person: Person) -> None:
        if person.scim_id is None:  # its creation failed, and counted
            return
        changed = self.dialect.change_title(self.session, person, "Principal")
        if changed is not None:  # else the request failed, and counted
            self.session.check(changed.get("title") == "Principal", "title changed")

    def remove_first_member(self, team: Team) -> None:
        if team.scim_id and team.members and self.by_key[team.members[0]].scim_id:
            first = self.by_key[team.members.pop(0)]
            self.dialect.remove_member(self.session, team, str(first.scim_id))

    def deactivate(self, person: Person) -> None:
        if person.scim_id is None:
            return
        answer = self.dialect.deactivate(self.session, person)
        if answer is not None:
            self.session.check(answer.get("active") is False, "user deactivated")

    def delete_leavers(self) -> None:
        for person in self.leavers[::2]:
            if person.scim_id is None:
                continue
            self.session.send("DELETE", f"/Users/{person.scim_id}", (204,))
            self.session.send("GET", f"/Users/{person.scim_id}", (404,))
            person.scim_id = None
            for team in self.teams:
                if person.key in team.members:
                    team.members.remove(person.key)

    def verify(self) -> None:
        for person in self.leavers:
            if person.scim_id:
                user = self.session.send("GET", f"/Users/{person.scim_id}", (200,))
                if user is not None:
                    self.session.check(user.get("active") is False, "leaver stays inactive")
        for team in self.teams[:5]:
            if team.scim_id is None:
                continue
            group = self.session.send("GET", f"/Groups/{team.scim_id}", (200,))
            if group is None:
                continue
            members = {m["value"] for m in group.get("members", [])}
            expected = {self.by_key[key].scim_id for key in team.members}
            self.session.check(members == expected, f"members of {team.display_name}")


def leavers(people: list[Person], percent: float) -> list[Person]:
    """Every n-th person from the third on, n chosen so that about ``percent`` of them leave."""
    if percent <= 0:
        return []
    return people[2 :: max(1, round(100 / percent))]
