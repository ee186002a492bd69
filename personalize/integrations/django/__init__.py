"""Django integration: a middleware, a ``PERSONALIZE`` settings dict and a template tag.

::

    # settings.py
    INSTALLED_APPS = [..., "personalize.integrations.django"]
    MIDDLEWARE = [..., "personalize.integrations.django.middleware.PersonalizeMiddleware"]
    PERSONALIZE = {"RULES": BASE_DIR / "rules", "STORE": "sqlite:///var/p.db"}

    {# a template #}
    {% load personalize %}
    {% slot "hero" %}<h1>Welcome</h1>{% endslot %} {% personalize_why "hero" %}

The app (label ``personalize``) registers the template library and a
``manage.py check`` of the settings; the middleware does the work. See
``docs/django.md``.
"""
