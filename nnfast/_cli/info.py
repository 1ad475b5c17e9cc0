"""``nnfast info``."""


def configure(parser):
    parser.add_argument("--json", action="store_true", help="print the information as JSON")


def run(args):
    import json

    from .. import config_info, show_config

    if args.json:
        print(json.dumps(config_info(), indent=2, default=str))
    else:
        show_config()
    return 0
