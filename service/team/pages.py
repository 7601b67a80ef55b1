"""HTML pages of staff accounts: the team (admins), the links from the invitation and reset
mails, "forgot password", and one's own account (password, API tokens)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from service import staff_queries
from service.auth import ROLES, SESSION_GENERATION, CurrentStaff, requires
from service.db import DB
from service.domain_errors import DomainError, FieldErrors, NotFound, refusal
from service.forms import Form
from service.i18n import gettext as _
from service.ratelimit import per_client
from service.staff import issue_token, revoke_token
from service.team import logic, queries
from service.team.api import INVITATION_LIMIT, RESET_LIMIT, link_key
from service.validation import Cursor

PAGE_SIZE = 100
# Each try of the current password costs a hash: a few a minute per client address.
PASSWORD_CHANGE_LIMIT = per_client("password-change", 10)


def _page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("errors", {})
    context.setdefault("fields", {})
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


def _read_passwords(form: Form, name: str, repeat: str) -> str:
    """A new password typed twice; its rules are the logic's (passwords.problem)."""
    password = form.data.get(name, "") or ""
    if not password:
        form.errors[name] = _("Please fill in this field.")
    elif password != (form.data.get(repeat, "") or ""):
        form.errors[repeat] = _("The two passwords are not the same.")
    return password


# ── the team (admins) ───────────────────────────────────────────────────────────────────────


def _read_scope(form: Form) -> list[str]:
    """The conferences field: "all", or the chosen slugs (at least one)."""
    if form.raw("scope") != "chosen":
        form.values["scope"] = "all"
        return []
    form.values["scope"] = "chosen"
    chosen = [slug for slug in form.data.getall("conferences", []) if isinstance(slug, str)]
    if not chosen:
        form.errors["conferences"] = _("Please choose at least one conference, or all of them.")
    return chosen


class TeamPages(Controller):
    path = "/staff/team"
    guards = [requires("admin")]
    include_in_schema = False

    async def _list(self, db: DB, after: int, **context: Any) -> dict[str, Any]:
        rows = await queries.page(db, after, PAGE_SIZE + 1)
        shown = rows[:PAGE_SIZE]
        return {
            "members": shown,
            "next": shown[-1]["id"] if len(rows) > PAGE_SIZE else None,
            "choices": await queries.conference_choices(db),
            "roles": ROLES,
            **context,
        }

    @get("/")
    async def team(
        self, db: DB, after: Cursor = 0, invited: FromQuery[int | None] = None
    ) -> Template:
        notice = None
        if invited is not None and (member := await queries.member(db, invited)):
            notice = _("The invitation to %(email)s is on its way.", email=member["email"])
        context = await self._list(db, after, notice=notice, fields={"scope": "all"})
        return _page("team/list.html", **context)

    @post("/")
    async def invite(self, request: Request, db: DB, state: State, staff: CurrentStaff) -> Any:
        form = Form(await request.form())
        form.email("email", required=True)
        form.name("name")
        form.choice("role", ROLES)
        slugs = _read_scope(form)
        if form.valid:
            try:
                row = await logic.invite(
                    db,
                    link_key(state),
                    staff,
                    email=form.values["email"],
                    name=form.values["name"],
                    role=form.values["role"],
                    conferences=slugs,
                )
                return Redirect(f"/staff/team?invited={row['id']}")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        context = await self._list(db, 0, fields=form.redisplay(), errors=form.errors)
        context["fields"].setdefault("scope", form.values.get("scope", "all"))
        return _page("team/list.html", 400, **context)

    async def _member_or_404(self, db: DB, staff_id: int) -> Any:
        member = await queries.member(db, staff_id)
        if member is None:
            raise logic.no_such_account()
        return member

    def _edit(self, member: Any, choices: Any, status: int = 200, **context: Any) -> Template:
        return _page(
            "team/edit.html", status, member=member, choices=choices, roles=ROLES, **context
        )

    @get("/{staff_id:int}")
    async def edit(
        self,
        db: DB,
        staff: CurrentStaff,
        staff_id: FromPath[int],
        done: FromQuery[str | None] = None,
    ) -> Template:
        member = await self._member_or_404(db, staff_id)
        fields = {
            "name": member["name"],
            "role": member["role"],
            "scope": "all" if member["all_conferences"] else "chosen",
            "conferences": list(member["conferences"]),
        }
        notices = {
            "saved": _("The changes are saved."),
            "resent": _("The invitation is on its way again, with a new link."),
            "deactivated": _("The account is deactivated; its sessions and API tokens have ended."),
            "reactivated": _("The account is active again."),
        }
        return self._edit(
            member,
            await queries.conference_choices(db),
            fields=fields,
            notice=notices.get(done or ""),
            is_self=staff.id == staff_id,
        )

    @post("/{staff_id:int}")
    async def save(
        self, request: Request, db: DB, staff: CurrentStaff, staff_id: FromPath[int]
    ) -> Any:
        member = await self._member_or_404(db, staff_id)
        form = Form(await request.form())
        form.name("name")
        form.choice("role", ROLES)
        slugs = _read_scope(form)
        if form.valid:
            changes = {"name": form.values["name"], "role": form.values["role"]}
            try:
                await logic.update(db, staff, staff_id, {**changes, "conferences": slugs})
                return Redirect(f"/staff/team/{staff_id}?done=saved")
            except FieldErrors as exc:
                form.errors.update(exc.errors)
        fields = form.redisplay()
        fields.setdefault("scope", form.values.get("scope", "all"))
        fields["conferences"] = form.data.getall("conferences", [])
        return self._edit(
            member,
            await queries.conference_choices(db),
            400,
            fields=fields,
            errors=form.errors,
            is_self=staff.id == staff_id,
        )

    @post("/{staff_id:int}/deactivate")
    async def deactivate(self, db: DB, staff: CurrentStaff, staff_id: FromPath[int]) -> Any:
        return await self._set_active(db, staff, staff_id, active=False)

    @post("/{staff_id:int}/reactivate")
    async def reactivate(self, db: DB, staff: CurrentStaff, staff_id: FromPath[int]) -> Any:
        return await self._set_active(db, staff, staff_id, active=True)

    async def _set_active(self, db: DB, staff: CurrentStaff, staff_id: int, active: bool) -> Any:
        member = await self._member_or_404(db, staff_id)
        try:
            await logic.update(db, staff, staff_id, {"active": active})
        except FieldErrors as exc:
            return await self._refused(db, staff, member, " ".join(exc.errors.values()))
        return Redirect(f"/staff/team/{staff_id}?done={'re' if active else 'de'}activated")

    @post("/{staff_id:int}/invitation")
    async def resend(
        self, db: DB, state: State, staff: CurrentStaff, staff_id: FromPath[int]
    ) -> Any:
        member = await self._member_or_404(db, staff_id)
        try:
            await logic.resend_invitation(db, link_key(state), staff, staff_id)
        except DomainError as exc:
            return await self._refused(db, staff, member, refusal(exc))
        return Redirect(f"/staff/team/{staff_id}?done=resent")

    async def _refused(self, db: DB, staff: CurrentStaff, member: Any, reason: str) -> Template:
        fields = {
            "name": member["name"],
            "role": member["role"],
            "scope": "all" if member["all_conferences"] else "chosen",
            "conferences": list(member["conferences"]),
        }
        return self._edit(
            member,
            await queries.conference_choices(db),
            409,
            fields=fields,
            refused=reason,
            is_self=staff.id == member["id"],
        )


# ── links from the mails (anyone holding one) ───────────────────────────────────────────────


def _link_problem(exc: DomainError, purpose: str) -> Template:
    status = 404 if isinstance(exc, NotFound) else 409
    return _page("team/link_invalid.html", status, reason=exc.detail, purpose=purpose)


class LinkPages(Controller):
    path = "/staff"
    include_in_schema = False

    async def _show(self, db: DB, token: str, purpose: str, template: str) -> Template:
        try:
            link = await logic.link_for(db, token, purpose)
        except (NotFound, logic.LinkUsed) as exc:
            return _link_problem(exc, purpose)
        return _page(template, email=link["email"], name=link["name"])

    async def _redeem(
        self, request: Request, db: DB, token: str, purpose: str, template: str
    ) -> Template:
        form = Form(await request.form())
        password = _read_passwords(form, "password", "password_repeat")
        redeem = logic.accept_invitation if purpose == logic.INVITATION else logic.reset_password
        try:
            link = await logic.link_for(db, token, purpose)
            if form.valid:
                await redeem(db, token, password)
                return _page("team/password_set.html", purpose=purpose, email=link["email"])
        except (NotFound, logic.LinkUsed) as exc:
            return _link_problem(exc, purpose)
        except FieldErrors as exc:
            form.errors.update(exc.errors)
        return _page(template, 400, email=link["email"], name=link["name"], errors=form.errors)

    @get("/invite/{token:str}", middleware=[INVITATION_LIMIT])
    async def invitation(self, db: DB, token: FromPath[str]) -> Template:
        return await self._show(db, token, logic.INVITATION, "team/invitation.html")

    @post("/invite/{token:str}", middleware=[INVITATION_LIMIT])
    async def accept(self, request: Request, db: DB, token: FromPath[str]) -> Template:
        return await self._redeem(request, db, token, logic.INVITATION, "team/invitation.html")

    @get("/reset")
    async def forgot(self) -> Template:
        return _page("team/forgot.html")

    @post("/reset", middleware=[RESET_LIMIT])
    async def ask_for_reset(self, request: Request, db: DB, state: State) -> Template:
        form = Form(await request.form())
        email = form.email("email", required=True)
        if not form.valid:
            return _page("team/forgot.html", 400, fields=form.redisplay(), errors=form.errors)
        await logic.request_password_reset(db, link_key(state), email)
        return _page("team/forgot.html", sent=True, fields={"email": email})

    @get("/reset/{token:str}", middleware=[INVITATION_LIMIT])
    async def reset(self, db: DB, token: FromPath[str]) -> Template:
        return await self._show(db, token, logic.PASSWORD_RESET, "team/reset.html")

    @post("/reset/{token:str}", middleware=[INVITATION_LIMIT])
    async def set_new(self, request: Request, db: DB, token: FromPath[str]) -> Template:
        return await self._redeem(request, db, token, logic.PASSWORD_RESET, "team/reset.html")


# ── one's own account ───────────────────────────────────────────────────────────────────────


class AccountPages(Controller):
    """/staff/account: the password and the API tokens; /staff/tokens shows the same page
    (its address from before the account page, kept working)."""

    path = "/staff"
    guards = [requires("scanner")]
    include_in_schema = False

    async def _account(
        self, db: DB, staff: CurrentStaff, status: int = 200, **context: Any
    ) -> Template:
        member = await queries.member(db, staff.id) if staff.id is not None else None
        return _page(
            "team/account.html",
            status,
            member=member,
            tokens=await staff_queries.tokens_of(db, staff.id),
            new_token=None,
            **context,
        )

    @get("/account")
    async def account(
        self, db: DB, staff: CurrentStaff, changed: FromQuery[bool] = False
    ) -> Template:
        notice = _("Your password is changed. You are logged out everywhere else.")
        return await self._account(db, staff, notice=notice if changed else None)

    @post("/account/password", middleware=[PASSWORD_CHANGE_LIMIT])
    async def change_password(self, request: Request, db: DB, staff: CurrentStaff) -> Any:
        form = Form(await request.form())
        old = form.data.get("old_password", "") or ""
        if not old:
            form.errors["old_password"] = _("Please fill in this field.")
        new = _read_passwords(form, "new_password", "new_password_repeat")
        if form.valid:
            try:
                generation = await logic.change_password(db, staff, old, new)
            except FieldErrors as exc:
                form.errors.update(exc.errors)
            else:
                # Every other session has ended; this one goes on with the new generation.
                if staff.device.startswith("session:"):
                    request.set_session({**request.session, SESSION_GENERATION: generation})
                return Redirect("/staff/account?changed=1")
        return await self._account(db, staff, 400, errors=form.errors)

    @get("/tokens")
    async def tokens(self, db: DB, staff: CurrentStaff) -> Template:
        return await self._account(db, staff)

    @post("/tokens")
    async def create_token(self, request: Request, db: DB, staff: CurrentStaff) -> Template:
        label = ((await request.form()).get("label") or "").strip()[:100]
        token = await issue_token(db, staff.email, label)
        page = await self._account(db, staff)
        page.context["new_token"] = token
        return page

    @post("/tokens/{token_id:int}/revoke")
    async def revoke(
        self, request: Request, db: DB, staff: CurrentStaff, token_id: FromPath[int]
    ) -> Redirect:
        if not await revoke_token(db, token_id, staff.id):
            raise NotFoundException(_("There is no such token."))
        back = (await request.form()).get("back")
        return Redirect("/staff/account#tokens" if back == "account" else "/staff/tokens")
