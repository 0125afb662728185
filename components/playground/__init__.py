"""The Playground's panels, one per Playground.panel kind (the keys of components.tabs.playground_tab.PANEL_BUILDERS):
classify, entities, chat, generate, answer."""
