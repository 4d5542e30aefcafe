"""GitHub Actions around the tick: the Actions client, dispatching the workflow, `init`'s set-up, and alerts.

- ``client.py`` — the Actions API of one repository (start the workflow, its state, its runs, secrets);
- ``dispatch.py`` — when and how ``send`` and ``dispatch`` start the tick workflow (pure parts take ``now``);
- ``setup.py`` — what ``switchboard init`` does on GitHub;
- ``alerts.py`` — the failure webhook after a pass.

The storage backends (``switchboard.backends``) only read and write the data tree.
"""
