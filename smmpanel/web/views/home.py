"""The landing page: what the panel sells, and the way in."""

from django.shortcuts import redirect, render


def landing(request):
    if request.user.is_authenticated:
        return redirect("web:new-order")
    return render(request, "web/landing.html")
