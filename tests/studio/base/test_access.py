"""studio.base.access and the entity layer: who sees and changes what; what may not be seen reads as missing."""

from __future__ import annotations

import pytest

from studio.base.access import (
    ANONYMOUS,
    EVERYONE,
    LOCAL,
    Access,
    Person,
    check_change,
    check_see,
    owned_by,
    parse_readers,
    read_access,
)
from studio.base.entity import SWEEPS
from studio.base.errors import AccessError, ReadOnlyError, RunError

ALICE, BOB, ADMIN = Person("alice"), Person("bob"), Person("carol", admin=True)


def test_owners_see_and_change_their_own_and_nobody_elses():
    mine = Access("alice")
    assert mine.can_see(ALICE) and mine.can_change(ALICE)
    assert not mine.can_see(BOB) and not mine.can_change(BOB)
    assert mine.can_see(ADMIN) and mine.can_change(ADMIN) and mine.can_see(LOCAL) and mine.can_change(LOCAL)
    assert not mine.can_see(ANONYMOUS)


def test_readers_look_but_do_not_change():
    shared = Access("alice", ("bob",))
    assert shared.can_see(BOB) and not shared.can_change(BOB)
    assert not shared.can_see(Person("dave"))
    public = Access("alice", (EVERYONE,))
    assert public.can_see(Person("dave")) and public.can_see(ANONYMOUS) and not public.can_change(ANONYMOUS)


def test_things_from_before_owners_are_for_admins_only():
    legacy = Access()
    assert not legacy.can_see(ALICE) and legacy.can_see(ADMIN)
    assert owned_by(LOCAL).owner is None and owned_by(ALICE).owner == "alice"


def test_what_one_may_not_see_reads_exactly_like_what_does_not_exist():
    with pytest.raises(AccessError) as hidden:
        check_see(Access("alice"), BOB, "run", "20261206-101010-abcdef")
    assert str(hidden.value) == "No run 20261206-101010-abcdef on this server."
    with pytest.raises(AccessError, match="belongs to alice; it is shared with you to look at, not to change"):
        check_change(Access("alice", ("bob",)), BOB, "run", "x")
    with pytest.raises(ReadOnlyError, match="read-only demo"):
        check_change(Access("alice", (EVERYONE,)), ANONYMOUS, "run", "x")


@pytest.mark.parametrize("name", ["../x", "a b", "/etc", "x" * 65, ".hidden", "a\x00b"])
def test_reader_names_are_checked(name):
    with pytest.raises(AccessError, match="is not an account name"):
        parse_readers([name])


def test_readers_as_typed():
    assert parse_readers("bob, carol;bob") == ("bob", "carol")
    assert parse_readers("everyone") == (EVERYONE,)
    assert parse_readers("") == ()


def test_a_person_key_is_never_a_path():
    assert Person("alice").key == "alice"
    for odd in ("..", "a/b", "x" * 100):
        key = Person(odd).key
        assert key.startswith("h-") and "/" not in key and ".." not in key


def test_the_entity_layer_opens_only_what_a_person_may_see(tmp_path):
    with SWEEPS.creating(tmp_path, owned_by(ALICE)) as (sweep_id, tmp):
        pass
    assert read_access(SWEEPS.folder(tmp_path, sweep_id)).owner == "alice"
    assert SWEEPS.open(tmp_path, sweep_id, ALICE, change=True).is_dir()
    assert SWEEPS.visible(tmp_path, ALICE) == [sweep_id] and SWEEPS.visible(tmp_path, BOB) == []
    assert SWEEPS.visible(tmp_path, ADMIN) == [sweep_id]
    with pytest.raises(RunError, match=f"No sweep {sweep_id} on this server"):
        SWEEPS.open(tmp_path, sweep_id, BOB)
    with pytest.raises(RunError, match="is not a sweep id"):
        SWEEPS.open(tmp_path, "../..", ADMIN)


def test_a_share_names_at_most_a_hundred_people():
    assert len(parse_readers([f"p{i}" for i in range(100)])) == 100
    with pytest.raises(AccessError, match="at most 100 names"):
        parse_readers(",".join(f"p{i}" for i in range(101)))
