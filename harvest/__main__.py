from harvest.cli import main

raise SystemExit(main())
