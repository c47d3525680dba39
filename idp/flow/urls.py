from django.urls import path

app_name = "flow"
urlpatterns: list = []
