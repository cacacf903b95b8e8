"""``kb user``: accounts (the first administrator is made here) and API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, engine, fail, settings_or_exit

from kb.accounts.actors import SYSTEM

user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Email address (used to sign in).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[str], typer.Option(help="Role: agent, author, expert or admin. Repeat for several.")],
    password: Annotated[str | None, typer.Option(help="Password; asked for when omitted (unless --invite).")] = None,
    invite: Annotated[bool, typer.Option(
        "--invite", help="No password: email the user a link to choose one (printed when email is not set up).")] = False,
) -> None:
    """Create a user. This is how the first administrator is made."""
    from pydantic import ValidationError

    from kb.accounts import password_links as links
    from kb.accounts import service as accounts
    from kb.accounts.schemas import UserCreate
    from kb.db import unit_of_work
    from kb.errors import DomainError
    from kb.messages import validation_messages
    from workflow.account_mail import wait_until_sent

    if invite and password is not None:
        fail("give either --password or --invite, not both.")
    if password is None and not invite:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    issued = None
    try:
        data = UserCreate(email=email, display_name=name, roles=role, password=password)
        settings = settings_or_exit()
        with unit_of_work(engine()) as session:
            if invite:
                issued = links.invite_user(session=session, actor=SYSTEM, data=data, settings=settings)
                user = issued.user
            else:
                user = accounts.create_user(session=session, actor=SYSTEM, data=data)
            summary = f"Created {user.email} ({', '.join(sorted(r.value for r in user.roles))})."
    except ValidationError as exc:
        fail(" ".join(validation_messages(exc.errors()).values()))
    except DomainError as exc:
        fail(exc.message)
    console.print(summary)
    if issued is not None:
        until = f"{issued.expires_at:%Y-%m-%d %H:%M} UTC"
        if issued.emailed:
            wait_until_sent()
            console.print(f"Invitation emailed to {issued.user.email}; its link works until {until}.")
        else:
            console.print(f"Email is not set up (KB_SMTP_URL), so give {issued.user.email} this link yourself; "
                          f"it works once, until {until}:")
            print(issued.url)


@user_app.command("token")
def user_token(
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "command line",
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from kb.accounts import service as accounts
    from kb.accounts.schemas import TokenCreate
    from kb.db import unit_of_work
    from kb.errors import DomainError

    try:
        with unit_of_work(engine()) as session:
            user = accounts.find_user_by_email(session=session, email=email)
            if user is None:
                fail(f"no user with the email {email}.")
            _, raw = accounts.create_api_token(session=session, actor=SYSTEM, user=user, data=TokenCreate(name=name))
    except DomainError as exc:
        fail(exc.message)
    # The token alone on stdout, so scripts can capture it.
    print(raw)
