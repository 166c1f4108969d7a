"""The run lifecycle: exactly the documented transitions, and terminal runs never change."""

from __future__ import annotations

import itertools

import pytest

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.status import ACTIVE, TERMINAL, RunStatus, can_transition, check_transition, sources_for

S = RunStatus
ALLOWED = {
    (S.queued, S.running),
    (S.queued, S.cancelled),
    (S.queued, S.failed),
    (S.running, S.cancelling),
    (S.running, S.completed),
    (S.running, S.failed),
    (S.running, S.timed_out),
    (S.running, S.cancelled),
    # waiting for a person: answered -> queued again (any worker resumes it); cancel, wait timeout
    (S.running, S.requires_action),
    (S.requires_action, S.queued),
    (S.requires_action, S.cancelled),
    (S.requires_action, S.timed_out),
    (S.requires_action, S.failed),
    (S.cancelling, S.cancelled),
    (S.cancelling, S.completed),
    (S.cancelling, S.failed),
    (S.cancelling, S.timed_out),
}


def test_terminal_and_active_sets() -> None:
    assert TERMINAL == {S.completed, S.failed, S.cancelled, S.timed_out}
    assert ACTIVE == {S.running, S.cancelling}
    assert [s for s in S if s.terminal] == [S.completed, S.failed, S.cancelled, S.timed_out]


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_only_documented_transitions_are_allowed(current: RunStatus, new: RunStatus) -> None:
    assert can_transition(current, new) is ((current, new) in ALLOWED)


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_a_terminal_run_never_changes(terminal: RunStatus) -> None:
    for new in S:
        with pytest.raises(AgentrunError) as info:
            check_transition(terminal, new)
        assert info.value.code is ErrorCode.run_finished
        assert info.value.http_status == 409
        assert terminal.value in info.value.message
        assert info.value.details == {"status": terminal.value}


def test_an_impossible_move_of_an_unfinished_run_is_a_conflict() -> None:
    with pytest.raises(AgentrunError) as info:
        check_transition(S.queued, S.completed)
    assert info.value.code is ErrorCode.conflict
    assert "queued" in info.value.message and "completed" in info.value.message
    with pytest.raises(AgentrunError):
        check_transition(S.cancelling, S.running)
    check_transition(S.queued, S.running)  # allowed: no error


@pytest.mark.parametrize("new", list(S))
def test_sources_for_is_the_inverse_of_the_transition_table(new: RunStatus) -> None:
    assert sources_for(new) == {current for current, target in ALLOWED if target == new}


def test_only_an_answered_wait_goes_back_to_queued() -> None:
    assert sources_for(S.queued) == frozenset({S.requires_action})
