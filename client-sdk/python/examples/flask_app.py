"""A Flask app made backup-able in two lines: its data folder is backed up as a tar.gz, and
restored by an import.

    pip install 'backup-contract[flask]'
    BACKUP_TOKEN=s3cret DATA_DIR=./data python3 flask_app.py 127.0.0.1:9004
"""

import os
import sys

from flask import Flask

from backup_contract import DirectorySource, create_backup_blueprint

app = Flask(__name__)

backup_bp = create_backup_blueprint("flask-files", DirectorySource(os.environ.get("DATA_DIR", "data")))
app.register_blueprint(backup_bp)


@app.get("/")
def index():
    return "the app's own pages are untouched"


if __name__ == "__main__":
    from werkzeug.serving import make_server

    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9004").rsplit(":", 1)
    server = make_server(host, int(port), app, threaded=True)  # threaded: HTTP/1.1, chunked bodies
    print(f"listening on http://{host}:{server.port}", flush=True)
    server.serve_forever()
