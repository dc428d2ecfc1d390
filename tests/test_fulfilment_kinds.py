"""The table of fulfilment kinds describes each kind: whether the worker looks at its work, and what requests do."""

from django.utils import timezone

from smmpanel.catalog import fulfilment_kinds


def test_the_worker_drives_exactly_the_kinds_whose_new_work_is_due():
    now = timezone.now()
    for name in fulfilment_kinds.KINDS:
        kind = fulfilment_kinds.get(name)
        # A kind a person fulfils must never be due: the worker would claim rows no step can move on.
        assert (kind.first_due(now) is not None) == kind.worker_driven, name
        assert (name in fulfilment_kinds.driven()) == kind.worker_driven, name


def test_a_request_on_a_kind_a_person_fulfils_asks_that_person_and_never_makes_it_due():
    now = timezone.now()
    for name in fulfilment_kinds.KINDS:
        kind = fulfilment_kinds.get(name)
        cancel = kind.cancel_requested(None, now)
        if kind.worker_driven:
            assert cancel == {"due_at": now}, name  # the worker looks at once
        else:
            assert cancel["needs_attention"] is True and "due_at" not in cancel, name
