"""The HTTP API (`connmodel api`): a thin transport over the services, like the CLI.

Each route authenticates the caller's API token (connmodel.services.tokens), runs one service
call as that token's actor in one session, and returns its result; errors become RFC 9457
problem details (connmodel.api.problems). No route decides anything itself: permissions,
validation, paging and the credential broker live in `connmodel`.
"""
