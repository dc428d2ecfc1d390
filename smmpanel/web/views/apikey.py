"""Placeholder: being written (issue 8). Replace this whole module."""

from django.http import Http404


def key_page(request, *args, **kwargs):
    raise Http404("not written yet")


def regenerate(request, *args, **kwargs):
    raise Http404("not written yet")


def docs(request, *args, **kwargs):
    raise Http404("not written yet")
