"""gunicorn reads this file from the working directory: the Procfile needs no flags.

The settings are in the package (mapapp/web/gunicorn_conf.py), so an installed wheel has them too.
"""

from mapapp.web.gunicorn_conf import *  # noqa: F403
