"""HTTP routes of accounts: parse, call the service, answer."""

from __future__ import annotations

from aiohttp import web

from server.accounts.models import (
    CohortIn,
    CohortPatch,
    CohortsQuery,
    InviteIn,
    InvitesQuery,
    LoginIn,
    PasswordChangeIn,
    PasswordResetIn,
    PeopleQuery,
    PersonChangeIn,
    ProfilePatch,
    RegisterIn,
)
from server.accounts.people import PeopleService
from server.accounts.profile import ProfileService
from server.accounts.remember import REFRESH_COOKIE, REFRESH_COOKIE_PATH, SignedIn
from server.accounts.service import AccountService, Client
from server.kernel.actors import Actor
from server.kernel.errors import AppError, forbidden
from server.kernel.http import ok, path_id, query_ints, read_input
from server.kernel.validation import parse_input
from server.reference.routes import Access, Route, RouteTable, add_routes, needs_consent

ACCOUNTS = web.AppKey("accounts", AccountService)
# Who the request came from, once `current_actor` has checked: what runs after the handler
# (the access audit, server/privacy/access_audit.py) reads it from here.
SIGNED_IN = web.RequestKey("signed_in", Actor)
# What every route that signs a person in answers.
SIGNED_IN_ANSWER = {
    "token": "string",
    "user": "OwnUser",
    "consent_required": "ConsentRequired|null",
}
RENEW_HEADER = "X-Peerrooms-Renew"
PEOPLE = web.AppKey("people", PeopleService)
PROFILES = web.AppKey("profiles", ProfileService)


async def current_actor(request: web.Request) -> Actor:
    """The signed-in caller, from `Authorization: Bearer <token>`; `unauthorized` otherwise,
    and `consent_required` on routes that need the current consent notice accepted
    (reference.routes.needs_consent) while the caller has not accepted it."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    accounts = request.app[ACCOUNTS]
    actor = await accounts.actor_for_token(token.strip() if scheme.lower() == "bearer" else None)
    resource = request.match_info.route.resource
    if needs_consent(resource.canonical if resource is not None else request.path):
        await accounts.require_consent(actor)
    request[SIGNED_IN] = actor
    return actor


async def register(request: web.Request) -> web.Response:
    data = await read_input(request, RegisterIn)
    return ok(await request.app[ACCOUNTS].register(data, client_of(request)), status=201)


async def login(request: web.Request) -> web.Response:
    data = await read_input(request, LoginIn)
    accounts = request.app[ACCOUNTS]
    return answer_signed_in(await accounts.login(data, client_of(request)), accounts)


async def renew(request: web.Request) -> web.Response:
    # A page of another site cannot send this header without the browser asking first, and
    # this server never says yes: on top of SameSite=Strict, no other site can renew.
    if request.headers.get(RENEW_HEADER) != "1":
        raise forbidden(f"Renewing a sign-in needs the {RENEW_HEADER} header.")
    accounts = request.app[ACCOUNTS]
    try:
        signed_in = await accounts.renew(request.cookies.get(REFRESH_COOKIE))
    except AppError as refused:
        # The cookie is worth nothing any more: the browser forgets it.
        response = web.json_response({"error": refused.as_error()}, status=refused.status)
        forget_refresh_cookie(response)
        return response
    return answer_signed_in(signed_in, accounts)


def answer_signed_in(signed_in: SignedIn, accounts: AccountService) -> web.Response:
    response = ok(signed_in.answer)
    if signed_in.refresh is not None:
        response.set_cookie(
            REFRESH_COOKIE,
            signed_in.refresh,
            max_age=int(accounts.remember_for.total_seconds()),
            path=REFRESH_COOKIE_PATH,
            secure=True,
            httponly=True,
            samesite="Strict",
        )
    return response


def forget_refresh_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="Strict"
    )


def client_of(request: web.Request) -> Client:
    return Client(request.remote, request.headers.get("User-Agent", ""))


async def logout(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[ACCOUNTS].sign_out(actor)
    response = web.Response(status=204)
    forget_refresh_cookie(response)
    return response


async def list_sessions(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"sessions": await request.app[ACCOUNTS].list_sessions(actor)})


async def end_session(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[ACCOUNTS].end_session(actor, request.match_info["id"])
    return web.Response(status=204)


async def change_password(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, PasswordChangeIn)
    await request.app[ACCOUNTS].change_password(actor, data)
    return web.Response(status=204)


async def deactivate(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"user": await request.app[ACCOUNTS].set_active(actor, path_id(request), False)})


async def reactivate(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"user": await request.app[ACCOUNTS].set_active(actor, path_id(request), True)})


async def me(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    accounts = request.app[ACCOUNTS]
    return ok(
        {"user": await accounts.me(actor), "consent_required": await accounts.consent_due(actor.id)}
    )


async def show_profile(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"profile": await request.app[PROFILES].profile(actor)})


async def change_profile(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, ProfilePatch)
    return ok({"profile": await request.app[PROFILES].change(actor, data)})


async def create_cohort(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, CohortIn)
    return ok({"cohort": await request.app[ACCOUNTS].create_cohort(actor, data)}, status=201)


async def list_cohorts(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(CohortsQuery, dict(request.query.items()))
    return ok({"cohorts": await request.app[ACCOUNTS].list_cohorts(actor, query)})


async def update_cohort(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    cohort_id = path_id(request)
    data = await read_input(request, CohortPatch)
    return ok({"cohort": await request.app[ACCOUNTS].update_cohort(actor, cohort_id, data)})


async def create_invite(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    data = await read_input(request, InviteIn)
    return ok({"invite": await request.app[ACCOUNTS].create_invite(actor, data)}, status=201)


async def list_invites(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_input(InvitesQuery, dict(request.query.items()) if request.query else {})
    return ok({"invites": await request.app[ACCOUNTS].list_invites(actor, query)})


async def revoke_invite(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[ACCOUNTS].revoke_invite(actor, path_id(request))
    return web.Response(status=204)


async def graduate(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    user_id = path_id(request)
    return ok({"user": await request.app[ACCOUNTS].graduate(actor, user_id)})


async def reset_password(request: web.Request) -> web.Response:
    data = await read_input(request, PasswordResetIn)
    return ok(await request.app[ACCOUNTS].reset_password(data, client_of(request)))


async def list_people(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    texts = {name: request.query[name] for name in ("role", "status", "q") if name in request.query}
    query = parse_input(PeopleQuery, texts | query_ints(request, "cohort_id", "limit", "after"))
    return ok(await request.app[PEOPLE].people(actor, query))


async def show_person(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return ok({"user": await request.app[PEOPLE].person(actor, path_id(request))})


async def change_person(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    user_id = path_id(request)
    data = await read_input(request, PersonChangeIn)
    return ok({"user": await request.app[PEOPLE].change(actor, user_id, data)})


async def issue_password_reset(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    reset = await request.app[PEOPLE].issue_password_reset(actor, path_id(request))
    return ok(reset, status=201)


PEOPLE_ROUTES = RouteTable(
    "people",
    "The people directory of the console: list, a person's page, role and cohort changes,"
    " password-reset codes that staff hand over.",
    (
        Route(
            "GET",
            "/api/users",
            list_people,
            "People, filtered and searched, a page at a time",
            Access.STAFF,
            query=PeopleQuery,
            returns={"users": ["Person"], "next_after": "integer|null"},
            description="By id. `q` matches the alias anywhere, case-insensitively (admins:"
            " the login name too, which only admins see). `status` is active, deactivated or"
            " all (the default). Pass `next_after` as `after` for the next page; null when"
            " there is none.",
        ),
        Route(
            "GET",
            "/api/users/{id}",
            show_person,
            "A person's page: who they are, restrictions in force, meetings attended",
            Access.STAFF,
            returns={"user": "PersonPage"},
            errors=("not_found",),
        ),
        Route(
            "PATCH",
            "/api/users/{id}",
            change_person,
            "Change a person's role (admins) or move them to a cohort",
            Access.STAFF,
            body=PersonChangeIn,
            returns={"user": "Person"},
            errors=("not_found", "forbidden", "conflict"),
            description="A new role signs the person out everywhere, to sign in again with it;"
            " nobody changes their own. `cohort_id` becomes the person's only cohort (patients"
            " and alumni; `conflict` for staff), and their live connections leave the rooms"
            " it closes at once. Moderators may move patients and alumni; staff accounts need"
            " an admin. Audited as `person_changed`.",
        ),
        Route(
            "POST",
            "/api/users/{id}/password-reset",
            issue_password_reset,
            "Issue a one-time password-reset code to hand over (valid for a day)",
            Access.STAFF,
            status=201,
            returns={"code": "string", "expires_at": "string", "path": "string"},
            errors=("not_found", "forbidden"),
            description="peerrooms sends no email: staff give the person the code or the link"
            " (`path`, on this server). A new code replaces the person's earlier ones. Staff"
            " accounts need an admin. Audited as `password_reset_issued`.",
        ),
        Route(
            "POST",
            "/api/auth/reset",
            reset_password,
            "Choose a new password with a reset code, and sign in",
            Access.PUBLIC,
            body=PasswordResetIn,
            returns=SIGNED_IN_ANSWER,
            errors=("unauthorized", "forbidden", "rate_limited"),
            description="An unknown, used or expired code is `unauthorized` (unknown codes"
            " count against the address's sign-in bucket); the new password follows the"
            " registration rules (`invalid`). Every other sign-in of the account ends."
            " Audited as `password_reset_used`.",
        ),
    ),
)


ACCOUNT_ROUTES = RouteTable(
    "accounts",
    "Registration with an invite, sign-in, cohorts, invites and graduation.",
    (
        Route(
            "POST",
            "/api/auth/register",
            register,
            "Create an account with an invite code and sign in",
            Access.PUBLIC,
            body=RegisterIn,
            status=201,
            returns=SIGNED_IN_ANSWER,
            errors=("not_found", "forbidden", "conflict", "rate_limited"),
            description=(
                "The invite and the names are checked before the password is hashed. Too many"
                " refused invite codes from one address, or refused names on one invite (each"
                " tells its holder that a name is in use), are `rate_limited` (with"
                " `retry_after_s`): five at once, then one a minute."
                " An unknown invite code is `not_found`; an expired or used-up one `forbidden`;"
                " a taken username `conflict` (the invite is not spent), and so is a display name"
                " that looks like another person's; a member's name that says staff is"
                " `invalid`. Usernames are stored"
                " in lower case: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter or digit."
                " Passwords need at least PASSWORD_MIN_LENGTH characters, four different"
                " characters, and must not contain the username."
                " `consent_version` is the version of the consent notice (`GET /api/consent`)"
                " shown to the person, who accepts it by registering (recorded with the"
                " account); a version no longer in force is `conflict`, and nothing is"
                " created."
            ),
        ),
        Route(
            "POST",
            "/api/auth/login",
            login,
            "Sign in: a bearer token for HTTP and the Socket.IO `auth`",
            Access.PUBLIC,
            body=LoginIn,
            returns=SIGNED_IN_ANSWER,
            errors=("unauthorized", "rate_limited"),
            description="A wrong username or password is `unauthorized`. After"
            " SIGNIN_FAILURES_PER_ACCOUNT failures on an account (one more every"
            " SIGNIN_ACCOUNT_REFILL_S seconds), or SIGNIN_FAILURES_PER_ADDRESS from one address,"
            " every attempt is `rate_limited` (429, with `retry_after_s`) until the wait ends,"
            " whatever the password; the buckets are shared across processes through Redis."
            " `remember: true` (keep me signed in on this device) also sets the renewal"
            " cookie that `POST /api/auth/renew` takes. `consent_required` (here, and in"
            " every answer that signs in): the version of the consent notice the person must"
            " accept (`POST /api/me/consent`) before anything else but their own account;"
            " null when they have accepted the one in force.",
        ),
        Route(
            "POST",
            "/api/auth/renew",
            renew,
            "A new token for a sign-in kept on this device, from its renewal cookie",
            Access.PUBLIC,
            returns=SIGNED_IN_ANSWER,
            errors=("unauthorized", "forbidden"),
            description="Needs the `X-Peerrooms-Renew: 1` header (`forbidden` without) and the"
            " `peerrooms_refresh` cookie set by a sign-in with `remember: true` (HttpOnly,"
            " Secure, SameSite=Strict, path /api/auth, for REMEMBER_DAYS after the last"
            " renewal). Each renewal replaces the cookie's secret; a secret already replaced,"
            " presented again after 30 s, ends that sign-in everywhere (audited as"
            " `kept_sign_in_reused`). An ended, expired or unknown sign-in is `unauthorized`"
            " and the answer deletes the cookie. `POST /api/auth/logout` deletes it too.",
        ),
        Route(
            "GET",
            "/api/me",
            me,
            "The signed-in account, with its login name and cohorts",
            Access.SIGNED_IN,
            returns={"user": "OwnUser", "consent_required": "ConsentRequired|null"},
            description="`consent_required`: the version of the consent notice the person"
            " must accept (`POST /api/me/consent`) before other routes and events work;"
            " null when they have accepted the one in force.",
        ),
        Route(
            "GET",
            "/api/me/profile",
            show_profile,
            "How others see me: my alias, pronouns and short line",
            Access.SIGNED_IN,
            returns={"profile": "Profile"},
        ),
        Route(
            "PATCH",
            "/api/me/profile",
            change_profile,
            "Change my alias, pronouns or short line",
            Access.SIGNED_IN,
            body=ProfilePatch,
            returns={"profile": "Profile"},
            errors=("conflict", "rate_limited"),
            description="Fields left out stay as they are; `pronouns` or `line` null or empty"
            " are taken away. A new `display_name` follows the registration rules: one that"
            " looks like another person's is `conflict`, and for a member one that says staff"
            " is `invalid` (their pronouns likewise). Three alias changes at once, then one"
            " every 8 hours; SIGNIN_FAILURES_PER_ACCOUNT refused names at once, then one every"
            " SIGNIN_ACCOUNT_REFILL_S seconds: beyond, `rate_limited` (with `retry_after_s`)."
            " An alias change is audited as `display_name_changed` (`reason`: the old and the"
            " new alias). Every change is announced to the rooms the person may enter and to"
            " their own sockets (`member_changed`).",
        ),
        Route(
            "POST",
            "/api/auth/logout",
            logout,
            "Sign out: this token stops working at once, and its sockets close",
            Access.SIGNED_IN,
            status=204,
        ),
        Route(
            "GET",
            "/api/me/sessions",
            list_sessions,
            "My sign-ins that have not ended (`current`: this one)",
            Access.SIGNED_IN,
            returns={"sessions": ["Session"]},
        ),
        Route(
            "DELETE",
            "/api/me/sessions/{id}",
            end_session,
            "End one of my sign-ins: its token stops working and its sockets close",
            Access.SIGNED_IN,
            status=204,
            errors=("not_found",),
        ),
        Route(
            "POST",
            "/api/me/password",
            change_password,
            "Change my password; every other sign-in of mine ends",
            Access.SIGNED_IN,
            body=PasswordChangeIn,
            status=204,
            errors=("forbidden", "rate_limited"),
            description="A wrong `current_password` is `forbidden` (and counts as a failed"
            " sign-in); the new one follows the registration rules (`invalid`). Every other"
            " sign-in ends, on every process: their sockets close, their tokens and kept"
            " sign-in cookies stop working. Audited as `password_changed`.",
        ),
        Route(
            "POST",
            "/api/users/{id}/deactivate",
            deactivate,
            "Deactivate an account: it cannot sign in, and every session and socket ends",
            Access.STAFF,
            returns={"user": "User"},
            errors=("not_found", "forbidden"),
            description="Moderators manage patients and alumni; staff accounts need an admin;"
            " nobody deactivates themselves. The answer adds `deactivated`.",
        ),
        Route(
            "POST",
            "/api/users/{id}/reactivate",
            reactivate,
            "Reactivate an account: it can sign in again",
            Access.STAFF,
            returns={"user": "User"},
            errors=("not_found", "forbidden"),
        ),
        Route(
            "POST",
            "/api/cohorts",
            create_cohort,
            "Create a cohort",
            Access.STAFF,
            body=CohortIn,
            status=201,
            returns={"cohort": "Cohort"},
            errors=("conflict",),
            description="A name in use is `conflict`. Audited as `cohort_created`.",
        ),
        Route(
            "GET",
            "/api/cohorts",
            list_cohorts,
            "Every cohort",
            Access.STAFF,
            query=CohortsQuery,
            returns={"cohorts": ["Cohort"]},
            description="`status=active` leaves out archived cohorts.",
        ),
        Route(
            "PATCH",
            "/api/cohorts/{id}",
            update_cohort,
            "Rename a cohort, or archive it (and bring it back)",
            Access.STAFF,
            body=CohortPatch,
            returns={"cohort": "Cohort"},
            errors=("conflict",),
            description="Archiving keeps the cohort's people and rooms as they are; invites for"
            " an archived cohort are `conflict`. A name in use is `conflict`. Audited as"
            " `cohort_changed`.",
        ),
        Route(
            "POST",
            "/api/invites",
            create_invite,
            "Create an invite code",
            Access.STAFF,
            body=InviteIn,
            status=201,
            returns={"invite": "Invite"},
            errors=("not_found",),
            description=(
                "Moderators invite patients and alumni; only admins invite moderators and"
                " admins. Without `expires_in_hours`, INVITE_DEFAULT_HOURS. Audited as"
                " `invite_created` (never with its code), as invites made on the command line"
                " are."
            ),
        ),
        Route(
            "GET",
            "/api/invites",
            list_invites,
            "Invites, newest first: those still usable, or all",
            Access.STAFF,
            query=InvitesQuery,
            returns={"invites": ["Invite"]},
            description="Moderators see the invites of patients and alumni; admins every"
            " invite. `status=usable` (the default): not revoked, expired or used up.",
        ),
        Route(
            "DELETE",
            "/api/invites/{id}",
            revoke_invite,
            "Revoke an invite: nobody can register with it from now on",
            Access.STAFF,
            status=204,
            errors=("conflict",),
            description="Accounts made with it stay. Moderators revoke the invites of patients"
            " and alumni (others are `not_found` to them). Audited as `invite_revoked`.",
        ),
        Route(
            "POST",
            "/api/users/{id}/graduate",
            graduate,
            "Graduate a patient: they become alumni and leave their group rooms at once",
            Access.STAFF,
            returns={"user": "User"},
            errors=("conflict",),
            description="Only patients graduate (`conflict` for alumni and staff). Audited as"
            " `person_changed` (role: patient -> alumni), as a role changed to alumni is.",
        ),
    ),
)


def add_account_routes(app: web.Application) -> None:
    add_routes(app, ACCOUNT_ROUTES)
    add_routes(app, PEOPLE_ROUTES)
