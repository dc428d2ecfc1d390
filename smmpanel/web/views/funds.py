"""Placeholder: being written (issue 8). Replace this whole module."""

from django.http import Http404


def funds(request, *args, **kwargs):
    raise Http404("not written yet")


def ledger_csv(request, *args, **kwargs):
    raise Http404("not written yet")
