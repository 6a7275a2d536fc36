"""Synthetic gateway data as plain rows: what `connmodel generate` writes, built without a database.

Everything is drawn from one numpy Generator seeded by the caller, and every time is an offset
from a given `now`, so a seed and a `now` give the same rows byte for byte. Rows are built column
by column with numpy (a million connections in a few seconds) and never as ORM objects.

The shape follows a real gateway: a few providers of each kind, profiles across dev / staging /
production with a long-tailed number of connections each, mostly Active connections, some
Inactive (expired or disabled by an admin) and a few Error ones (invalid_grant, HTTP 401/403).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from connmodel.status import Environment, ProviderKind, Status
from connmodel.terms import terms

DAY_US = 86_400 * 10**6
HOUR_US = 3_600 * 10**6

ADMINS = ("alice", "bob", "carol", "dave", "erin", "frank")
FIRST = ("ana", "ben", "chloe", "dan", "eva", "felix", "grace", "hugo", "ines", "jack", "kim",
         "liam", "maya", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara", "uma", "victor",
         "wei", "xena", "yusuf", "zoe")
LAST = ("smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "anderson", "thomas",
        "taylor", "moore", "martin", "lee", "perez", "white", "harris", "clark", "lewis",
        "walker", "hall", "young", "king", "wright", "scott", "green", "baker", "adams", "nelson")
DOMAINS = ("example.com", "acme.example", "globex.example", "initech.example", "umbrella.example",
           "contoso.example", "fabrikam.example", "hooli.example")
NO_ACCOUNT = "Configured"  # the account shown for a connection without a signed-in user
TEAMS = ("Sales", "Support", "Platform", "Data", "Finance", "Marketing", "Security", "Ops",
         "Research", "Legal")


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    kind: ProviderKind
    settings: dict[str, object]


PROVIDERS = (
    ProviderSpec("No Authentication Provider", ProviderKind.NONE, {}),
    ProviderSpec("API Key Authentication Provider", ProviderKind.API_KEY,
                 {"header": "Authorization", "scheme": "Bearer"}),
    ProviderSpec("Google OAuth2 Provider", ProviderKind.OAUTH2, {
        "preset": "google", "issuer": "https://accounts.google.com",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revocation_url": "https://oauth2.googleapis.com/revoke",
        "client_id": "000000000-generated.apps.googleusercontent.com",
        "scopes": ["openid", "email"]}),
    ProviderSpec("GitHub OAuth2 Provider", ProviderKind.OAUTH2, {
        "authorize_url": "https://github.com/login/oauth/authorize",
        "token_url": "https://github.com/login/oauth/access_token",
        "client_id": "Iv1.generated", "scopes": ["repo", "read:user"]}),
    ProviderSpec("Microsoft Entra ID OAuth2 Provider", ProviderKind.OAUTH2, {
        "issuer": "https://login.microsoftonline.com/common/v2.0",
        "authorize_url": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "client_id": "00000000-0000-0000-0000-generated", "scopes": ["openid", "email"]}),
    ProviderSpec("Slack OAuth2 Provider", ProviderKind.OAUTH2, {
        "authorize_url": "https://slack.com/oauth/v2/authorize",
        "token_url": "https://slack.com/api/oauth.v2.access",
        "client_id": "generated.slack", "scopes": ["channels:read", "chat:write"]}),
)

# (application, index into PROVIDERS): the profile's name starts with the application.
APPS = (("Calculator", 0), ("Weather", 0), ("Time", 0), ("Hubspot", 1), ("Stripe", 1),
        ("Datadog", 1), ("Sentry", 1), ("Zendesk", 1), ("Notion", 1), ("Linear", 1),
        ("Google", 2), ("Gsuite", 2), ("Drive", 2), ("GitHub", 3), ("Copilot", 3),
        ("Outlook", 4), ("Teams", 4), ("SharePoint", 4), ("Slack", 5), ("Huddles", 5))
SERVER_SUFFIXES = ("MCP", "Tools", "Search")

# Per provider kind: status probabilities and the reasons each non-Active status carries.
STATUS_MIX: dict[ProviderKind, tuple[float, float, float]] = {
    ProviderKind.NONE: (0.96, 0.04, 0.0),
    ProviderKind.API_KEY: (0.86, 0.08, 0.06),
    ProviderKind.OAUTH2: (0.80, 0.13, 0.07),
}
STATUSES = (Status.ACTIVE.value, Status.INACTIVE.value, Status.ERROR.value)
INACTIVE_REASONS = ("token expired", "refresh token expired", "disabled by {admin}",
                    "disabled by {admin}: offboarded user", "consent revoked by user")
INACTIVE_REASONS_NO_TOKEN = ("disabled by {admin}", "disabled by {admin}: unused for 90 days")
ERROR_REASONS = ("invalid_grant", "invalid_grant: Token has been expired or revoked.",
                 "authentication failed: 401 Unauthorized", "authentication failed: 403 Forbidden",
                 "invalid_client: client secret rotated")
ERROR_REASONS_API_KEY = ("authentication failed: 401 Unauthorized", "invalid API key",
                         "authentication failed: 403 Forbidden")


@dataclass(frozen=True)
class ProfileRow:
    name: str
    environment: str
    provider: int  # index into PROVIDERS
    servers: tuple[tuple[str, str, str, str | None], ...]  # name, url, state, reason


@dataclass
class ConnectionColumns:
    """One list per column, index i is connection i (profile is an index into the profiles)."""

    profile: list[int]
    service: list[str]
    account: list[str]
    status: list[str]
    status_reason: list[str | None]
    checked_at: np.ndarray  # datetime64[us] in UTC; NaT is NULL
    expires_at: np.ndarray
    last_used_at: np.ndarray
    created_at: np.ndarray
    terms: set[tuple[int, str, str]]  # (profile, "account" | "service", term): see _terms

    def __len__(self) -> int:
        return len(self.profile)


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def profile_rows(rng: np.random.Generator, n: int) -> list[ProfileRow]:
    """n profiles named "<App> <Team>" (then "<App> <Team> 2", ...), each with 1-3 servers."""
    envs = rng.choice([e.value for e in Environment], size=n, p=[0.35, 0.25, 0.40]).tolist()
    n_servers = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]).tolist()
    stopped = (rng.random(n) < 0.04).tolist()
    admins = rng.integers(0, len(ADMINS), size=n).tolist()
    rows = []
    for i in range(n):
        app, provider = APPS[i % len(APPS)]
        team = TEAMS[(i // len(APPS)) % len(TEAMS)]
        round_ = i // (len(APPS) * len(TEAMS))
        name = f"{app} {team}" + (f" {round_ + 1}" if round_ else "")
        servers = tuple(
            (f"{name} {suffix}", f"https://{_slug(name)}.mcp.example/{suffix.lower()}",
             "disconnected" if stopped[i] else "connected",
             f"stopped by {ADMINS[admins[i]]} for maintenance" if stopped[i] else None)
            for suffix in SERVER_SUFFIXES[: n_servers[i]]
        )
        rows.append(ProfileRow(name, envs[i], provider, servers))
    return rows


def _times(now: datetime, offsets_us: np.ndarray) -> np.ndarray:
    """now minus each offset (microseconds) as UTC datetime64, vectorised."""
    base = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")
    return base - offsets_us.astype("timedelta64[us]")


def time_strings(values: np.ndarray) -> list[str | None]:
    """'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite format), None for NaT."""
    text = np.datetime_as_string(values, unit="us")
    if len(text):  # the "T" becomes a space in the array itself: no Python string per value
        text.view("U1").reshape(len(text), -1)[:, 10] = " "
    strings: list[str | None] = text.tolist()
    for i in np.flatnonzero(np.isnat(values)).tolist():
        strings[i] = None
    return strings


def time_values(values: np.ndarray) -> list[datetime | None]:
    """Aware UTC datetimes (PostgreSQL's binary COPY), None for NaT."""
    return [None if d is None else d.replace(tzinfo=UTC)
            for d in values.astype("datetime64[us]").astype(object).tolist()]


def _pick(rng: np.random.Generator, choices: tuple[str, ...], n: int, admins: list[int]) -> list[str]:
    idx = rng.integers(0, len(choices), size=n).tolist()
    return [choices[i].format(admin=ADMINS[a]) for i, a in zip(idx, admins, strict=True)]


@dataclass(frozen=True)
class ConnectionPlan:
    """The only whole-size arrays of a load: each connection's profile, status and age.

    Everything else is drawn a chunk at a time (`connection_columns`), so ten million
    connections need ~130 MB here plus one chunk of strings, not gigabytes of Python lists.
    The statuses are known before any row is written (the audit event states their counts).
    """

    profile: np.ndarray  # int32 index into the profiles
    status: np.ndarray  # int8 index into STATUSES
    age_us: np.ndarray  # int64 microseconds before now, oldest first (ids follow age)

    def __len__(self) -> int:
        return len(self.profile)

    def chunks(self, size: int) -> Iterator["ConnectionPlan"]:
        for start in range(0, len(self), size):
            stop = start + size
            yield ConnectionPlan(self.profile[start:stop], self.status[start:stop],
                                 self.age_us[start:stop])

    def by_profile_and_status(self) -> list[tuple[int, str, int]]:
        """(profile index, status, connections) for each pair that has any."""
        counts = np.bincount(self.profile.astype(np.int64) * len(STATUSES) + self.status)
        pairs = np.flatnonzero(counts)
        return [(p // len(STATUSES), STATUSES[p % len(STATUSES)], n)
                for p, n in zip(pairs.tolist(), counts[pairs].tolist(), strict=True)]

    def by_status(self) -> dict[str, int]:
        counts = np.bincount(self.status, minlength=len(STATUSES))
        return {s: int(n) for s, n in zip(STATUSES, counts.tolist(), strict=True)}


def connection_plan(rng: np.random.Generator, profiles: list[ProfileRow], n: int) -> ConnectionPlan:
    """n connections spread over the profiles with a long tail (each has at least one)."""
    m = len(profiles)
    weights = 1.0 / np.arange(1, m + 1) ** 0.7
    rng.shuffle(weights)
    counts = rng.multinomial(n - m, weights / weights.sum()) + 1
    profile = np.repeat(np.arange(m, dtype=np.int32), counts)
    rng.shuffle(profile)
    kinds = np.array([PROVIDERS[p.provider].kind for p in profiles])[profile]
    status = np.empty(n, dtype=np.int8)
    roll = rng.random(n)
    for kind, (active, inactive, _error) in STATUS_MIX.items():
        mask = kinds == kind
        status[mask] = np.where(roll[mask] < active, 0, np.where(roll[mask] < active + inactive,
                                                                1, 2))
    age = np.sort(rng.integers(DAY_US, 540 * DAY_US, size=n))[::-1]
    return ConnectionPlan(profile, status, age)


def connection_columns(
    rng: np.random.Generator, profiles: list[ProfileRow], plan: ConnectionPlan, now: datetime
) -> ConnectionColumns:
    """The columns of the connections of `plan` (a whole plan or a slice of one)."""
    n = len(plan)
    profile = plan.profile
    age = plan.age_us
    kinds = np.array([PROVIDERS[p.provider].kind for p in profiles])[profile]
    status = np.array(STATUSES, dtype=object)[plan.status]
    since_use = np.minimum(rng.exponential(3 * DAY_US, size=n).astype(np.int64), age - 1)
    stale = status != Status.ACTIVE.value
    since_use[stale] = np.minimum(rng.integers(14 * DAY_US, 300 * DAY_US, size=n), age - 1)[stale]
    never_used = rng.random(n) < 0.04
    since_check = rng.integers(0, 48 * HOUR_US, size=n)
    old_check = rng.random(n) < 0.08
    since_check[old_check] = rng.integers(2 * DAY_US, 90 * DAY_US, size=n)[old_check]
    since_check = np.minimum(since_check, age - 1)

    oauth = kinds == ProviderKind.OAUTH2
    api_key = kinds == ProviderKind.API_KEY
    expires_in = rng.integers(HOUR_US, 60 * DAY_US, size=n)  # ahead of now
    expired = rng.integers(DAY_US, 120 * DAY_US, size=n)  # behind now
    has_expiry = oauth | (api_key & (rng.random(n) < 0.3))
    until = np.where(status == Status.INACTIVE.value, -expired, expires_in)

    admins = rng.integers(0, len(ADMINS), size=n).tolist()
    reason = np.full(n, None, dtype=object)
    inactive = status == Status.INACTIVE.value
    error = status == Status.ERROR.value
    for mask, choices in (
        (inactive & oauth, INACTIVE_REASONS),
        (inactive & ~oauth, INACTIVE_REASONS_NO_TOKEN),
        (error & oauth, ERROR_REASONS),
        (error & ~oauth, ERROR_REASONS_API_KEY),
    ):
        idx = np.flatnonzero(mask)
        reason[idx] = _pick(rng, choices, len(idx), [admins[i] for i in idx.tolist()])

    first_pick = rng.integers(0, len(FIRST), size=n)
    last_pick = rng.integers(0, len(LAST), size=n)
    number = rng.integers(1, 1000, size=n).tolist()
    domain_pick = rng.integers(0, len(DOMAINS), size=n)
    picks = [first_pick, last_pick, domain_pick]
    first, last, domain = (p.tolist() for p in picks)
    account = [
        f"{FIRST[f]}.{LAST[la]}{k}@{DOMAINS[d]}" if o else NO_ACCOUNT
        for f, la, k, d, o in zip(first, last, number, domain, oauth.tolist(), strict=True)
    ]
    services = [PROVIDERS[p.provider].name for p in profiles]
    profile_list = profile.tolist()

    expires = _times(now, -until)
    expires[~has_expiry] = np.datetime64("NaT", "us")
    last_used = _times(now, since_use)
    last_used[never_used] = np.datetime64("NaT", "us")
    return ConnectionColumns(
        profile=profile_list,
        service=[services[p] for p in profile_list],
        account=account,
        status=status.tolist(),
        status_reason=reason.tolist(),
        checked_at=_times(now, since_check),
        expires_at=expires,
        last_used_at=last_used,
        created_at=_times(now, age),
        terms=_terms(profile, oauth, picks, services),
    )


def _terms(profile: np.ndarray, oauth: np.ndarray, picks: list[np.ndarray],
           services: list[str]) -> set[tuple[int, str, str]]:
    """(profile, source, term) for every run of letters in these rows' accounts and services,
    as migration 0013's trigger would add them, from the words the accounts were made of.

    An account's runs are its first name's, last name's and domain's (the number and the
    punctuation between them hold no letter): the distinct (profile, word) pairs are found in
    numpy instead of splitting ten million strings in Python (17 s of a 10M load).
    """
    found: set[tuple[int, str, str]] = set()
    signed_in = profile[oauth].astype(np.int64)
    for words, picked in zip((FIRST, LAST, DOMAINS), picks, strict=True):
        pairs = np.unique(signed_in * len(words) + picked[oauth])
        found.update((p, "account", t) for p, w in (divmod(k, len(words)) for k in pairs.tolist())
                     for t in terms(words[w]))
    for p in np.unique(profile[~oauth]).tolist():
        found.update((p, "account", t) for t in terms(NO_ACCOUNT))
    for p in np.unique(profile).tolist():
        found.update((p, "service", t) for t in terms(services[p]))
    return found
