"""Study configs, the runner, the results store, statistics, plots and the CLI. The only
package that imports both ``zc_proxies`` and ``search_spaces``."""
