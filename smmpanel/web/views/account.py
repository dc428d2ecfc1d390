"""Placeholder: being written (issue 8). Replace this whole module."""

from django.http import Http404


def signup(request, *args, **kwargs):
    raise Http404("not written yet")


def login(request, *args, **kwargs):
    raise Http404("not written yet")


def logout(request, *args, **kwargs):
    raise Http404("not written yet")


def password_change(request, *args, **kwargs):
    raise Http404("not written yet")


def password_reset(request, *args, **kwargs):
    raise Http404("not written yet")


def password_reset_sent(request, *args, **kwargs):
    raise Http404("not written yet")


def password_reset_confirm(request, *args, **kwargs):
    raise Http404("not written yet")


def password_reset_done(request, *args, **kwargs):
    raise Http404("not written yet")


def settings(request, *args, **kwargs):
    raise Http404("not written yet")
