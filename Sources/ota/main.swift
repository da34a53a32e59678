print("ota")
