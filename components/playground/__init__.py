"""The Playground's panels, one per Playground.panel kind (studio.serve.playground.PANELS): classify, entities,
chat, generate, answer."""
