"""JupyterHub's configuration for a labkit class (``labkit classroom`` runs ``jupyterhub -f`` on this file).

Everything a class needs is set here, from ``LABKIT_CLASSROOM_*`` variables the command sets (run it by hand with
the same variables to use this file on its own):

- the hub on ``127.0.0.1:$LABKIT_CLASSROOM_PORT`` (``LABKIT_CLASSROOM_IP`` to open it to a room's network), its
  proxy ``configurable-http-proxy`` (from npm: ``LABKIT_CLASSROOM_PROXY``), its state in ``LABKIT_CLASSROOM_DIR``;
- a workshop's sign-in: JupyterHub's ``SharedPasswordAuthenticator``. Learners choose a name and type the class
  password (``LABKIT_CLASSROOM_PASSWORD``); whoever signs in with the instructors' password
  (``LABKIT_CLASSROOM_INSTRUCTOR_PASSWORD``) is put in the group ``instructors`` (groups follow the password used,
  so a learner who signs in under an instructor's name gets no instructor's rights);
- one single-user server per learner (``SimpleLocalProcessSpawner``: a home folder per learner under
  ``homes/``), whose lessons are copied into ``labkit-lessons/`` on first start (``labkit.lab.workspace``); each
  lesson starts its own ``Lab()`` in the learner's kernel, as on a laptop;
- the instructor's board, a managed service at ``/services/board/`` (``labkit.classroom.service``), and the scopes
  it checks: every learner's server token may report (``custom:labkit-board:report``), the ``instructors`` group
  may read (``custom:labkit-board:read``);
- with ``LABKIT_CLASSROOM_ADMIN_TOKEN``, a service ``classroom-admin`` holding that token, for scripts that start
  learners' servers through the REST API (the tests and ``benchmarks/classroom.py``).
"""

import os
import sys
from pathlib import Path

from labkit.classroom.hubconfig import configure

__all__: list[str] = []

_get_config = globals().get("get_config")  # JupyterHub's loader defines it; an import of this module does nothing
if _get_config is not None:
    configure(_get_config(), os.environ, python=sys.executable, root=Path(os.environ["LABKIT_CLASSROOM_DIR"]))
