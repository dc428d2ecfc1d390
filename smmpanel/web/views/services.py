"""Placeholder: being written (issue 8). Replace this whole module."""

from django.http import Http404


def catalog(request, *args, **kwargs):
    raise Http404("not written yet")
