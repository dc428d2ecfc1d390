"""Placeholder: being written (issue 8). Replace this whole module."""

from django.http import Http404


def order_list(request, *args, **kwargs):
    raise Http404("not written yet")


def order_detail(request, *args, **kwargs):
    raise Http404("not written yet")


def refill(request, *args, **kwargs):
    raise Http404("not written yet")


def cancel(request, *args, **kwargs):
    raise Http404("not written yet")


def refill_list(request, *args, **kwargs):
    raise Http404("not written yet")


def dripfeed_list(request, *args, **kwargs):
    raise Http404("not written yet")


def subscription_list(request, *args, **kwargs):
    raise Http404("not written yet")
