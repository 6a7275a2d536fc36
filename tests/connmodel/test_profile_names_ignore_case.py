"""Profile names ignore case: a second "google" is refused, listings sort "beta" between "Alpha"
and "Gamma", and migration 0021 renames (and audits) profiles that already clash, on both stores."""

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import select

from connmodel.errors import AlreadyExists
from connmodel.models import AuditEvent, Profile
from connmodel.schema import alembic_config
from connmodel.services.groups import list_profile_groups
from connmodel.services.profiles import create_profile, create_provider_config, list_profiles
from connmodel.store import get_engine, session


def _profiles(url: str, admin, *names: str) -> None:
    with session(url) as s:
        config = create_provider_config(s, actor=admin, name="Local", kind="none")
        for name in names:
            create_profile(s, actor=admin, name=name, provider_config_id=config.id)
        s.commit()


def test_a_name_taken_in_another_case_is_refused_naming_the_holder(store_url, admin):
    _profiles(store_url, admin, "Google")
    with session(store_url) as s, pytest.raises(AlreadyExists) as info:
        create_profile(s, actor=admin, name="gOOgle", provider_config_id=1)
    assert str(info.value) == ("a profile named 'Google' exists (profile names ignore case): "
                               "choose another name")
    with session(store_url) as s, pytest.raises(AlreadyExists, match="^a profile named 'Google' "
                                                                     "exists$"):
        create_profile(s, actor=admin, name="Google", provider_config_id=1)


def test_listings_sort_names_ignoring_case_across_pages(store_url, admin):
    _profiles(store_url, admin, "beta", "Gamma", "alpha", "Delta", "epsilon")
    expected = ["alpha", "beta", "Delta", "epsilon", "Gamma"]
    with session(store_url) as s:
        for listing in (list_profiles, list_profile_groups):
            first = listing(s, actor=admin, limit=2)
            rest = listing(s, actor=admin, limit=10, cursor=first.next_cursor)
            assert [p.name for p in first.items + rest.items] == expected, listing.__name__


def test_migration_0021_renames_clashing_profiles_and_says_so(store_url, admin):
    engine = get_engine(store_url)
    cfg = alembic_config(store_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0020")
    with session(store_url) as s:  # as a connmodel before 0021 let them be made
        config = create_provider_config(s, actor=admin, name="Local", kind="none")
        s.add_all(Profile(name=name, provider_config_id=config.id)
                  for name in ("Google", "google", "GOOGLE", "google (2)", "Hubspot"))
        s.commit()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with session(store_url) as s:
        names = s.exec(select(Profile.name).order_by(Profile.id)).all()
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "profile.rename")
                        .order_by(AuditEvent.id)).all()
        assert s.execute(text("SELECT count(*) FROM profile")).scalar_one() == 5
    assert names == ["Google", "google (3)", "GOOGLE (4)", "google (2)", "Hubspot"]
    assert [(e.actor, e.target) for e in events] == [
        ("migration 0021", "profile google -> google (3)"),
        ("migration 0021", "profile GOOGLE -> GOOGLE (4)")]
    with session(store_url) as s, pytest.raises(AlreadyExists):
        create_profile(s, actor=admin, name="HUBSPOT", provider_config_id=1)
