"""The Playground's panels, one per Playground.panel kind (studio.serve.playground): classify, entities, chat, generate."""
