"""Placeholder: being written (issue 8). Replace this whole module."""

from django.http import Http404


def new_order(request, *args, **kwargs):
    raise Http404("not written yet")


def service_fields(request, *args, **kwargs):
    raise Http404("not written yet")


def charge(request, *args, **kwargs):
    raise Http404("not written yet")


def mass_order(request, *args, **kwargs):
    raise Http404("not written yet")
