"""``patroni-dynamodb`` / ``python -m dynatroni.patroni``: Patroni with the DynamoDB DCS available."""
from .patroni_loader import install


def main() -> None:
    install()
    from patroni.__main__ import main as patroni_main
    patroni_main()


if __name__ == '__main__':
    main()
