from scimgate.cli.main import app

app()
